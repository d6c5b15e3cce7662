from agritrace.cli import app

app(prog_name="agritrace")
