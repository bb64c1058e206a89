"""The app's screens; each redraws from the live stores when the app's timer asks."""
