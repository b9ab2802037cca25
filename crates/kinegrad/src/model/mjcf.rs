//! MJCF loader. (Being filled in.)
