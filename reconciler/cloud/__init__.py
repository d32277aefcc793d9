"""Cloud control planes the reconciler talks to: the embedded sandbox today."""
