import sys

from anima.main import main

sys.exit(main())
