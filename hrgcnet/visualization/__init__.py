"""Drawing for the CLI and the apps: skeletons, heatmaps and GC attention maps as images
(:mod:`hrgcnet.visualization.drawing`)."""
