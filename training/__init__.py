"""Training for township doctors on de-identified real cases (case library, quizzes, credits)."""
