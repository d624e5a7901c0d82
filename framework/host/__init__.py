"""Host steps: what the per-agent executor runs on each agent (check -> act -> verify, idempotent).

Entry points: :func:`dcos_scaleio.framework.host.run.run_step` (in process) and
``python -m dcos_scaleio.framework.host.run <step>`` (params JSON on stdin, result JSON on stdout).
Step names: see :data:`dcos_scaleio.framework.host.steps.STEPS`. Contract: :mod:`.step`.
"""
