"""Azure-compatible entity classes (Data, Environment, Model, components, jobs, Input/Output)."""
