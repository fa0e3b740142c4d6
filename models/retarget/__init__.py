"""Motion retargeting: animal keypoints -> robot reference motions (Peng et al., RSS 2020, Sec. IV-A)."""
