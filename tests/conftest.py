import torch

# The networks under test are tiny: one thread avoids oversubscribing the cores
# (much faster on a loaded 2-core machine) and keeps timings stable.
torch.set_num_threads(1)
