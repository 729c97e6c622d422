import sys

from sysnb.cli import main

sys.exit(main())
