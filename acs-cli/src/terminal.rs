//! What the CLI knows of the terminal: whether to colour, whether to be quiet, and the
//! few styles it uses. Colour only on a terminal, never with `NO_COLOR` set.

use std::io::IsTerminal;

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour when the stream is a terminal and `NO_COLOR` is unset.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// How output is shaped, decided once from the flags and the environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    /// ANSI colours on standard output.
    pub color: bool,
    /// `--quiet`: print only what the command exists to print (results, errors).
    pub quiet: bool,
    /// Standard error is a terminal (progress bars go there).
    pub stderr_is_terminal: bool,
    /// Standard input is a terminal: a command reading it says so, or it would seem to
    /// hang.
    pub stdin_is_terminal: bool,
}

impl Style {
    /// Decide from the flags and the process environment.
    pub fn detect(choice: ColorChoice, quiet: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Style {
            color: !no_color && std::io::stdout().is_terminal(),
            quiet: false,
            stderr_is_terminal: std::io::stderr().is_terminal(),
            stdin_is_terminal: std::io::stdin().is_terminal(),
        }
        .with_flags(choice, quiet)
    }

    /// This style (what `--color auto` gives) under `--color choice` and `--quiet`.
    pub fn with_flags(self, choice: ColorChoice, quiet: bool) -> Self {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => self.color,
        };
        Style {
            color,
            quiet: self.quiet || quiet,
            ..self
        }
    }

    /// Plain output: what tests and pipes get.
    pub fn plain() -> Self {
        Style::default()
    }

    /// `text` in bold red when colouring.
    pub fn error(&self, text: &str) -> String {
        self.paint("1;31", text)
    }

    /// `text` in bold yellow when colouring.
    pub fn warning(&self, text: &str) -> String {
        self.paint("1;33", text)
    }

    /// `text` in green when colouring.
    pub fn good(&self, text: &str) -> String {
        self.paint("32", text)
    }

    /// `text` in bold when colouring.
    pub fn bold(&self, text: &str) -> String {
        self.paint("1", text)
    }

    /// `text` dimmed when colouring.
    pub fn dim(&self, text: &str) -> String {
        self.paint("2", text)
    }

    fn paint(&self, sgr: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{sgr}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}
