import sys

from sysnb.report import main

sys.exit(main())
