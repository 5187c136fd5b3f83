"""emogen's diffusers-style pipelines (importable as ``emogen.pipelines``)."""

__all__: list[str] = []
