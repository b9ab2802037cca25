//! Primitive entities (Genesis morphs Plane, Box, Sphere, Cylinder, Capsule).
