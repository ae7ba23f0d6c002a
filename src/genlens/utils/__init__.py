"""Small helpers shared across genlens (device, seeding, modes, images, io)."""
