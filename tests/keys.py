"""The presenter keys the tests type. Constants, not fixtures: parametrize lists name them
(tests/service/test_authority.py), and conftest files configure them before any test runs."""

PRESENTER_KEY = "test-presenter-key"        # every test process's (tests/conftest.py configures it)
E2E_PRESENTER_KEY = "e2e-presenter-key"     # the browser tests' server's (tests/e2e/conftest.py starts it with it)
