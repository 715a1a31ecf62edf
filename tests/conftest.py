pytest_plugins = ["tests.support.docker", "tests.support.baseimages", "tests.support.registry"]
