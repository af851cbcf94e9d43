"""The step format and the one driver every search and inference mode runs on.

- `steps`: how a solution is written (`Step k: ...`), prompted and read back;
- `work`: what a search asks for (`Generate`, `Score`) and what it gets back (`Continuation`);
- `driver`: advances many searches at once, merging their requests into batched backend calls.

This package sits below `evolve.search` and `evolve.infer` and imports neither. The face that front
ends use is `evolve.api.Reasoner`.
"""
