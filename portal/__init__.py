"""The portal: the web pages people sign in to (keys, credits, playground, admin)."""
