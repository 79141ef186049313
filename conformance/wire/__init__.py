"""The wire: HTTP to the endpoint, cassettes, secrets scrubbing, recorded-traffic loading."""
