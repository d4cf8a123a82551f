#!/usr/bin/env python
import sys


def main() -> None:
    from va_agency import use_settings_from_environment

    use_settings_from_environment()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
