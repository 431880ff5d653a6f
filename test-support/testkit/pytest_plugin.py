"""The fixtures every suite shares: load with `pytest_plugins = ["testkit.pytest_plugin"]` in a conftest."""

pytest_plugins = [
    "testkit.practicehub_fixtures",
    "testkit.pipedrive_fixtures",
    "testkit.openapi_oracle",
]
