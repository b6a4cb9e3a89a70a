"""The boundary of the toolkit for what needs more than the simulator's (`accel_sim.inputs`): images,
the user's own code, results rows, storage and cluster addresses, and the figures a result may hold."""
