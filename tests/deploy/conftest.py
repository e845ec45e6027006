"""deploy/ tests: offline checks of the image definitions, the Kubernetes manifests and the
GPU node pool. No Docker engine, cluster or network is needed."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
# `deploy` is not an installed package: import it from the checkout whatever pytest's rootdir
# and import mode (and never as the tests/deploy directory).
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
