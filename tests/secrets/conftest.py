"""Every secrets test runs in a private PROXYPAL_HOME with an in-memory keyring."""

from tests.secrets.isolation import mem_keyring, pp_home  # noqa: F401 (autouse fixtures)
