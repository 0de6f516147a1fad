"""The gateway: saved policies serving live traffic through an OpenAI-compatible HTTP server.

``python -m core serve`` (:mod:`core.gateway.serve`) and the in-process :class:`~core.gateway.router.Router`
share one engine:

* ``request``: the checked chat-completions request; ``errors``: OpenAI-format refusals;
* ``engine``: the ``model`` field resolved (``tradeoff/NAME`` or ``PROVIDER:MODEL``), admission
  (``admission``), the policy run, the calls accounted for;
* ``executors``: one live class per policy kind, deciding as the policy's offline ``evaluate``;
  ``turn``: one request's calls and answers;
* ``calls``: retries, backoff, breakers; ``upstream`` + ``wire``: the thin HTTP path in the
  OpenAI, Anthropic and Gemini wire formats;
* ``sink`` + ``spool``: every call's ledger row made durable before the answer leaves;
  ``agent``: the thread that commits them, publishes ``deployments`` and writes the status;
* ``app``, ``responses``, ``metrics``: the Starlette app, bodies and streams, Prometheus.
"""
