from disentangle.cli import app

app(prog_name="disentangle")
