//! URDF loader. (Being filled in.)
