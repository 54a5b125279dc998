"""``podself webhook``: a mutating admission webhook that gives every new pod of the namespaces
(or pods) that opt in what ``podself inject`` would add to its manifest.

- :mod:`podself.webhook.admission`: one AdmissionReview in, one out (standard library);
- :mod:`podself.webhook.server`: the HTTPS server, its bounds, metrics and certificate reload;
- :mod:`podself.webhook.certs`: a CA and serving certificate (the ``webhook`` extra);
- :mod:`podself.webhook.manifests`: the objects that install it in a cluster.
"""
