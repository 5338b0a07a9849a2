"""keras-vis' `vis` package: `vis.visualization` and `vis.utils.utils`."""
