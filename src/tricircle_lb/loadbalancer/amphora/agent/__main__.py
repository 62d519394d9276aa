import sys

from tricircle_lb.loadbalancer.amphora.agent.main import main

sys.exit(main())
