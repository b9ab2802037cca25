//! Mass properties of geoms (inertia from geometry). (Being filled in.)
