.PHONY: demo test lint
demo:  ## JupyterLab + the extension against the seeded local AWS emulator
	scripts/demo.sh
test:  ## the whole test suite (sets up .venv, builds the panel, installs chromium when root)
	scripts/test.sh
lint:
	.venv/bin/ruff check smstudio_ext tests bench && .venv/bin/ruff format --check smstudio_ext tests bench
