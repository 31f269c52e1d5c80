"""The training layer: losses, ramps, schedules, the EMA teacher, the methods and the one trainer."""
