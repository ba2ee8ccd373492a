"""The Argo CD Config Management Plugin adapter and its pre-forked worker."""
