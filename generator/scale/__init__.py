"""More than one node (issue 25): the `scale:` config section and what it adds to a stack.

With ``scale.nodes: 1`` (the default) nothing here adds anything: the stack is byte for byte
the one-server stack. With more nodes the stack gains ``scale.tf`` (nodes 2..N, the Network
Load Balancer, Redis's password, the node-to-node rules) and each node's bundle gains LiveKit's
``redis:`` section and the Socket.IO app's ``REDIS_URL``. docs/scale-out.md says why.
"""
