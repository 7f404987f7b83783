pytest_plugins = ["smstudio_ext.testing.fixtures"]
