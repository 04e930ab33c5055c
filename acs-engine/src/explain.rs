//! Explanations: for one input and each candidate rule, the value of every
//! sub-expression of its condition, so a person sees why it matched or not.
