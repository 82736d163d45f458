"""The pytest11 fixtures plugin authors get by installing the package."""

pytest_plugins = ["pytester"]


def test_fixtures_are_available_to_any_test_suite(pytester):
    pytester.makepyfile(
        """
        def test_demo(demo_lakehouse):
            assert demo_lakehouse.collect_stats("demo.events").row_count == 1000

        def test_empty(tmp_lakehouse):
            assert tmp_lakehouse.list_tables() == []
        """
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
