//! VJPs of contact geometry (point, normal, distance) with respect to the two geom poses,
//! the contact feature held fixed. (Being written.)
