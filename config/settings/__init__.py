"""Settings modules: ``base`` (shared), ``development`` (default), ``test``, ``production``."""
