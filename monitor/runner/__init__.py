"""Orchestration of one capture: target + agent + proxy + scenario → one sealed run directory."""
