from tests.differential.builders import differential_builds

__all__ = ["differential_builds"]
