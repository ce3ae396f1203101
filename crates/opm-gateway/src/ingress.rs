//! Ingress translation (in progress).
