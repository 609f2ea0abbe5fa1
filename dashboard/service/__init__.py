"""Streamlit-free service layer: sessions, jobs and shared results for the app."""
