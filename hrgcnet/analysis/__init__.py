"""Analysis helpers behind the Streamlit app (no streamlit imports here): complexity breakdowns, GC attention
statistics, latency benchmarks and evaluation-result loading."""
