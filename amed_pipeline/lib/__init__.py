"""Small building blocks shared by several stages."""
