"""The inspector at /_echoscope/: routes, history API, live feed, stores, recorder, page (ui/).

May import: every package but service.httpbin (replay goes through service.calls' client).
"""
