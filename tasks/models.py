# Models for this app arrive with their issue; the app is wired in now.
