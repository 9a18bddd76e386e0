"""Claude (Anthropic Messages API): the assistant's model, its simulator and demo stand-in."""
