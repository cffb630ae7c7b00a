"""Tools for kernel authors: ``kernels init``, ``list-variants``, ``build-matrix``, ``build``,
``check-config``, ``release``.

- :mod:`.scaffold`: a new, compilable kernel repository from templates (``templates/``).
- :mod:`.variant_matrix`: THE table of required build variants (torch x backend x toolkit x
  platform) and how CI builds each one; the only place these facts live.
- :mod:`.requirements`: which of those variants a given kernel needs, and which one the
  current build environment produces.
- :mod:`.build_matrix`: the CI job matrix that builds every required variant.
- :mod:`.build`: the build through pip (shared with release) and ``kernels build`` /
  ``kernels check-config``.
- :mod:`.release`: build -> convert -> check -> fill card -> upload for the variant built here.

These modules read build.toml through :mod:`kernels_build.config` (the build backend ships in
the same distribution); nothing here imports torch.
"""
